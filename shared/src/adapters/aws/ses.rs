//! `Mailer` on SES v2: plain-text UTF-8 mail (subject and body), reply-to and cc when given,
//! the configuration set when the deployment has one. A refused address is `Rejected`, so a
//! blast can report it and go on.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::{describe, Settings};
use crate::ports::mailer::{Mail, MailError, Mailer};

pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, settings: &Settings) -> Self {
        SesMailer {
            client,
            from: settings.mail_from.clone(),
            configuration_set: settings.mail_configuration_set.clone(),
        }
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Backend(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.body)?).build())
            .build();
        let destination = Destination::builder()
            .to_addresses(&mail.to)
            .set_cc_addresses((!mail.cc.is_empty()).then(|| mail.cc.clone()))
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(destination)
            .set_reply_to_addresses(mail.reply_to.clone().map(|r| vec![r]))
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_message_rejected() || s.is_bad_request_exception()) =>
            {
                Err(MailError::Rejected(describe(&e)))
            }
            Err(e) => Err(MailError::Backend(describe(&e))),
        }
    }
}
